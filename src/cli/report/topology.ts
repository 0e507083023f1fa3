/**
 * A sparse run's topology log, `topology.jsonl` in the run directory: one JSON line per topology
 * update with every sparsifiable layer's state after it, appended as the run goes. Line 0 is the
 * initial topology (update 0, step 0, epoch 0), so curves start where training started. A resumed
 * run first drops the lines of updates its checkpoint had not reached (`trimTopology` in
 * ../resume.ts), so the file always matches the run's actual history.
 */
import type { LayerTopologyStats, LayerUpdateReport } from '../../dst/topology.js';

/** File name of the topology log in a run directory. */
export const TOPOLOGY_LOG = 'topology.jsonl';

/** One layer after one update. */
export interface TopologyLayerRecord {
  name: string;
  /** Nonzero weights, and nnz / (out × fan-in). */
  nnz: number;
  density: number;
  /** Constant fan-in (SRigL); null for unstructured methods. */
  k: number | null;
  activeNeurons: number;
  /** Neurons with no weight after the update. */
  ablatedNeurons: number;
  /** Neurons this update ablated (active before, ablated after) and revived (the reverse). */
  newlyAblated: number;
  revived: number;
  /** Weights this update dropped and grew (0 for dense layers and the initial record). */
  dropped: number;
  grown: number;
}

/** One line of topology.jsonl. */
export interface TopologyRecord {
  /** 1, 2, … in order; 0 for the initial topology. */
  update: number;
  /** The training step (0-based, a multiple of ΔT) whose gradient the update used; 0 for the initial record. */
  step: number;
  /** The 1-based epoch the update fell in; 0 for the initial record. */
  epoch: number;
  /** The drop fraction of the update (cosine-annealed α); 0 for the initial record. */
  dropFraction: number;
  /** Every sparsifiable layer in forward order, dense ones included (density 1). */
  layers: TopologyLayerRecord[];
}

/**
 * The record of update `update` from the layers' stats after it (`SparseTraining.stats()`) and
 * the update's per-layer reports (absent for layers it did not touch, and for the initial record).
 */
export function topologyRecord(
  at: { update: number; step: number; epoch: number; dropFraction: number },
  stats: readonly LayerTopologyStats[],
  reports: readonly LayerUpdateReport[] = [],
): TopologyRecord {
  const byName = new Map(reports.map((r) => [r.name, r]));
  return {
    update: at.update,
    step: at.step,
    epoch: at.epoch,
    dropFraction: at.dropFraction,
    layers: stats.map((s) => {
      const r = byName.get(s.name);
      return {
        name: s.name, nnz: s.nnz, density: s.density, k: s.k, activeNeurons: s.activeNeurons, ablatedNeurons: s.ablatedNeurons,
        newlyAblated: r?.newlyAblated ?? 0, revived: r?.revived ?? 0, dropped: r?.nDropped ?? 0, grown: r?.nGrown ?? 0,
      };
    }),
  };
}
