/**
 * Rendering: Vega-Lite spec -> Vega View (headless, renderer 'none') -> SVG string -> resvg PNG.
 *
 * Every call builds its own View and its own Resvg instance from an explicit spec, so there is
 * no shared plotting state between plots, runs or concurrent tasks (the Python system's
 * Matplotlib global state is what broke under threads). Fonts are named explicitly
 * ("DejaVu Sans", Debian `fonts-dejavu-core`) in every spec and resvg is told to load system
 * fonts: without them resvg silently drops all text from the PNG.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { Resvg } from '@resvg/resvg-js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../store/index.js';

export const PLOT_FONT = 'DejaVu Sans';

/** A Vega-Lite top-level spec; kept loose because vega-lite's own type is a deep union. */
export type VlSpec = Record<string, unknown>;

export interface RenderedPlot {
  name: string;
  svg: string;
  png: Uint8Array;
}

/**
 * Fills in the settings every plot must carry: the schema, the font on every text role and a
 * white background, so the PNG is legible on any viewer. The caller's own config wins.
 */
export function withPlotDefaults(spec: VlSpec): VlSpec {
  const userConfig = (spec.config as Record<string, unknown> | undefined) ?? {};
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    background: 'white',
    ...spec,
    config: {
      font: PLOT_FONT,
      title: { font: PLOT_FONT, fontSize: 14 },
      axis: { labelFont: PLOT_FONT, titleFont: PLOT_FONT },
      legend: { labelFont: PLOT_FONT, titleFont: PLOT_FONT },
      header: { labelFont: PLOT_FONT, titleFont: PLOT_FONT },
      ...userConfig,
    },
  };
}

/**
 * A logger for one compilation that keeps Vega-Lite's warnings instead of printing them: they
 * would interleave with the CLI's output and with other tasks' output in a shared worker.
 */
function collectingLogger(messages: string[]): vega.LoggerInterface {
  let level = vega.Warn;
  const logger: vega.LoggerInterface = {
    level(l?: number) {
      if (l === undefined) return level as never;
      level = l;
      return logger as never;
    },
    error(...args: readonly unknown[]) {
      messages.push(`error: ${args.join(' ')}`);
      return logger;
    },
    warn(...args: readonly unknown[]) {
      messages.push(`warn: ${args.join(' ')}`);
      return logger;
    },
    info() {
      return logger;
    },
    debug() {
      return logger;
    },
  };
  return logger;
}

/** Vega-Lite spec -> SVG markup; `messages` receives the compiler's warnings, if given. */
export async function specToSvg(spec: VlSpec, messages: string[] = []): Promise<string> {
  const compiled = vl.compile(withPlotDefaults(spec) as unknown as vl.TopLevelSpec, {
    logger: collectingLogger(messages),
  }).spec;
  // renderer 'none': no DOM or canvas needed; toSVG renders the scenegraph to a string.
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const DEJAVU_FILES = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',
];

/**
 * Font sources for resvg: the two DejaVu faces the plots use when they are where Debian puts
 * them (scanning every system font costs ~40 ms per PNG, most of a PNG's time), else a scan.
 */
function fontOptions(): { loadSystemFonts: boolean; fontFiles?: string[] } {
  const files = DEJAVU_FILES.filter((f) => existsSync(f));
  return files.length === DEJAVU_FILES.length ? { loadSystemFonts: false, fontFiles: files } : { loadSystemFonts: true };
}

/** SVG markup -> PNG bytes at 2x, text drawn with the DejaVu fonts. */
export function svgToPng(svg: string, scale = 2): Uint8Array {
  const resvg = new Resvg(svg, {
    font: { ...fontOptions(), defaultFontFamily: PLOT_FONT, sansSerifFamily: PLOT_FONT },
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
  });
  return resvg.render().asPng();
}

export async function renderPlot(name: string, spec: VlSpec): Promise<RenderedPlot> {
  const svg = await specToSvg(spec);
  return { name, svg, png: svgToPng(svg) };
}

/** Writes `<dir>/<name>.svg` and `<dir>/<name>.png` atomically; returns the two paths. */
export function writePlot(dir: string, plot: RenderedPlot): { svg: string; png: string } {
  const svgPath = join(dir, `${plot.name}.svg`);
  const pngPath = join(dir, `${plot.name}.png`);
  writeFileAtomic(svgPath, plot.svg);
  writeFileAtomic(pngPath, plot.png);
  return { svg: svgPath, png: pngPath };
}
