export { buildFfmpegPlan, displayName, type FfmpegPlan, type PlanIo, type PlanOutput, type TextFile } from './buildFfmpegPlan.js';
export { computeLayout, initialsOf, type Layout, type LayoutOptions, type Rect, type StageSnapshot, type StageSpeaker, type Tile } from './computeLayout.js';
export { defaultLadder, defaultLatency, validateLadder, type LatencyProfile, type Rendition } from './ladder.js';
export { classifyFfmpegExit, parseFfmpegStats, type FfmpegFailure, type FfmpegStats } from './ffmpegOutput.js';
export { FfmpegError, runFfmpeg, type RunFfmpegOptions } from './runFfmpeg.js';
export { broadcastJobDataSchema, broadcastJobId, broadcastProgressSchema, broadcastQueueName, type BroadcastJobData, type BroadcastProgress } from './broadcastJob.js';
export { BroadcastQueue, type BroadcastState } from './BroadcastQueue.js';
export { BroadcastWorker, type BroadcastRunner, type BroadcastWorkerOptions } from './BroadcastWorker.js';
export { runStageBroadcast, type StageBroadcastOptions } from './runStageBroadcast.js';
