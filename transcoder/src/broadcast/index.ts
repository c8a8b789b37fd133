export { buildFfmpegPlan, displayName, type FfmpegPlan, type PlanIo, type TextFile } from './buildFfmpegPlan.js';
export { computeLayout, initialsOf, type Layout, type LayoutOptions, type Rect, type StageSnapshot, type StageSpeaker, type Tile } from './computeLayout.js';
export { defaultLadder, defaultLatency, validateLadder, type LatencyProfile, type Rendition } from './ladder.js';
