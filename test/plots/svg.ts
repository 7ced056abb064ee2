/**
 * Small SVG checks for tests, without a DOM: a tag-balance parser that proves the markup is
 * well-formed XML (every element closed in order, attributes quoted, entities valid) and
 * collects the text nodes, so tests can look for titles, axis labels and legend entries.
 */
export interface ParsedSvg {
  root: string;
  rootAttrs: string;
  texts: string[];
  elementCount: number;
}

const ENTITY = /^&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/;

function decode(text: string): string {
  return text
    .replace(/&#x([0-9a-fA-F]+);/g, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(parseInt(d, 10)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

function checkEntities(s: string, where: number): void {
  let i = s.indexOf('&');
  while (i >= 0) {
    if (!ENTITY.test(s.slice(i))) throw new Error(`bad entity at offset ${where + i}: ${s.slice(i, i + 10)}`);
    i = s.indexOf('&', i + 1);
  }
}

export function parseSvg(svg: string): ParsedSvg {
  const stack: string[] = [];
  const texts: string[] = [];
  let root = '';
  let rootAttrs = '';
  let count = 0;
  let i = 0;
  const tag = /^<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/;
  while (i < svg.length) {
    const lt = svg.indexOf('<', i);
    const text = svg.slice(i, lt < 0 ? svg.length : lt);
    if (text.trim().length > 0) {
      if (stack.length === 0) throw new Error(`text outside the root element at offset ${i}`);
      checkEntities(text, i);
      texts.push(decode(text));
    }
    if (lt < 0) break;
    if (svg.startsWith('<?', lt)) {
      i = svg.indexOf('?>', lt) + 2;
      continue;
    }
    if (svg.startsWith('<!--', lt)) {
      i = svg.indexOf('-->', lt) + 3;
      continue;
    }
    const m = tag.exec(svg.slice(lt));
    if (!m) throw new Error(`malformed tag at offset ${lt}: ${svg.slice(lt, lt + 60)}`);
    const [whole, closing, name, attrs, selfClosing] = m;
    checkEntities(attrs!, lt);
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}> at offset ${lt}`);
    } else {
      if (stack.length === 0) {
        if (root !== '') throw new Error(`second root element <${name}> at offset ${lt}`);
        root = name!;
        rootAttrs = attrs!;
      }
      count++;
      if (!selfClosing) stack.push(name!);
    }
    i = lt + whole.length;
  }
  if (stack.length > 0) throw new Error(`unclosed elements: ${stack.join(' > ')}`);
  if (root === '') throw new Error('no root element');
  return { root, rootAttrs, texts, elementCount: count };
}
