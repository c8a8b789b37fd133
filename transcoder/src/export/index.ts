export { buildExportPlan, splitReplayRuns, type ExportInput, type ExportPlan, type ExportPlanOptions, type MeasuredExportInput } from './buildExportPlan.js';
export { exportJobDataSchema, exportJobId, exportProgressSchema, exportQueueName, replayMp4Name, type ExportJobData, type ExportProgress } from './exportJob.js';
export { ExportQueue, type ExportRetryOptions, type ExportState } from './ExportQueue.js';
export { ExportWorker, type ExportRunner, type ExportWorkerOptions } from './ExportWorker.js';
export { subtitlesForExport } from './exportSubtitles.js';
export { measureMediaSpan, type MediaSpan } from './measureMediaSpan.js';
export { chooseExportRendition, parseReplayPlaylist, replayStreamSchema, type ReplayRendition, type ReplayRun, type ReplayPlaylistSegment, type ReplayStream } from './replayPlaylist.js';
export { createExportRunner, ExportError, type ExportRunnerDeps } from './runExport.js';
export { runExportFfmpeg, type RunExportFfmpegOptions } from './runExportFfmpeg.js';
