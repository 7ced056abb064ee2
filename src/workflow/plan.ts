/**
 * Plans an experiment as a task graph: one build per target, one sample per target x sampler
 * (after its build), one diagnose per sample, and with --promote one report after everything.
 * Specs carry only paths, ids and config (src/contracts/tasks.ts): tasks load their inputs from
 * the store. A dependency's result is checked against its contract before a spec uses it.
 */
import type { LoadedExperiment } from '../config/experiment.js';
import {
  buildTaskResult, diagnosis, parseContract, sampleTaskResult, type FailedPair, type SampleTaskSpec,
} from '../contracts/index.js';
import { reusedBuild, reusedDiagnosis, reusedSample } from './reuse.js';
import type { GraphNode } from './graph.js';

export interface PlannedPair {
  target_index: number;
  target_id: string;
  sampler: string;
  sampler_index: number;
  build: string;
  sample: string;
  diagnose: string;
}

export interface WorkflowPlan {
  nodes: GraphNode[];
  pairs: PlannedPair[];
}

/** Keeps ids filesystem-safe whatever a sampler is called. */
function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]+/g, '_');
}

export function planWorkflow(
  exp: LoadedExperiment,
  home: string,
  opts: { promote?: boolean; reuse?: boolean; invocationDir?: string } = {},
): WorkflowPlan {
  const reuse = opts.reuse ?? true;
  const nodes: GraphNode[] = [];
  const pairs: PlannedPair[] = [];
  for (const t of exp.targets) {
    const buildId = `build-t${t.index}`;
    nodes.push({
      id: buildId,
      stage: 'build',
      label: `build ${t.target_id}`,
      deps: [],
      spec: () => ({ kind: 'build', home, target: t.config }),
      ...(reuse ? { reuse: async (spec) => (spec.kind === 'build' ? reusedBuild(spec, t.target_id) : undefined) } : {}),
    });
    exp.samplers.forEach((s, j) => {
      const sampleId = `sample-t${t.index}-s${j}-${safe(s.name)}`;
      const diagnoseId = `diagnose-t${t.index}-s${j}-${safe(s.name)}`;
      nodes.push({
        id: sampleId,
        stage: 'sample',
        label: `sample ${t.target_id} ${s.name}`,
        deps: [buildId],
        spec: (deps) => {
          const built = parseContract(buildTaskResult, deps.get(buildId), `result of ${buildId}`, 'build result');
          // The build reports the id it wrote; it must be the one the plan hashed.
          if (built.target_id !== t.target_id) {
            throw new Error(`build returned target ${built.target_id}, the plan expected ${t.target_id}`);
          }
          const spec: SampleTaskSpec = {
            kind: 'sample',
            home,
            target_id: t.target_id,
            sampler: s,
            ...(t.posterior ? { target_posterior: t.posterior } : {}),
            ...(t.chains ? { target_chains: t.chains } : {}),
            ...(t.burn_in !== undefined ? { target_burn_in: t.burn_in } : {}),
          };
          return spec;
        },
        ...(reuse ? { reuse: async (spec) => (spec.kind === 'sample' ? reusedSample(spec) : undefined) } : {}),
      });
      nodes.push({
        id: diagnoseId,
        stage: 'diagnose',
        label: `diagnose ${t.target_id} ${s.name}`,
        deps: [sampleId],
        spec: (deps) => {
          const run = parseContract(sampleTaskResult, deps.get(sampleId), `result of ${sampleId}`, 'sample result');
          return { kind: 'diagnose', run_dir: run.dir };
        },
        ...(reuse ? { reuse: async (spec) => (spec.kind === 'diagnose' ? reusedDiagnosis(spec) : undefined) } : {}),
      });
      pairs.push({
        target_index: t.index, target_id: t.target_id, sampler: s.name, sampler_index: j,
        build: buildId, sample: sampleId, diagnose: diagnoseId,
      });
    });
  }
  if (opts.promote) {
    nodes.push({
      id: 'report',
      stage: 'report',
      label: `report ${exp.experiment}`,
      deps: pairs.map((p) => p.diagnose),
      // The report shows what succeeded and lists what did not.
      runDespiteFailedDeps: true,
      spec: (_deps, outcomes) => {
        const runDirs: string[] = [];
        const failures: FailedPair[] = [];
        for (const p of pairs) {
          const o = outcomes.get(p.diagnose)!;
          if (o.status === 'done') {
            runDirs.push(parseContract(diagnosis, o.result, `result of ${p.diagnose}`, 'diagnosis').run_dir);
          } else {
            const e = o.root_cause?.error ?? o.error;
            failures.push({
              target: p.target_id,
              sampler: p.sampler,
              status: o.status,
              error: `${o.root_cause?.node ?? o.id}: ${e?.kind ?? 'failed'}: ${e?.message ?? ''}`,
            });
          }
        }
        return {
          kind: 'report',
          home,
          experiment: exp.experiment,
          run_dirs: runDirs,
          failures,
          ...(opts.invocationDir ? { invocation_dir: opts.invocationDir } : {}),
          config: { experiment: exp.experiment, dtype: exp.dtype, targets: exp.targets.map((t) => t.config), samplers: exp.samplers },
        };
      },
    });
  }
  return { nodes, pairs };
}
