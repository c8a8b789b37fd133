import type { ExportState } from '@tribune/transcoder';

/** What `GET /api/spaces/:id/export` answers. */
export interface ExportStatus {
	/**
	 * `queued`: waiting for a transcoder (or for a retry); `waiting`: a transcoder waits for the broadcast to finish
	 * writing the replay; `running`: ffmpeg writes the MP4; `ready`: `url` downloads it; `failed`: see `error` (a
	 * host or co-host may ask again); `none`: no export (not recorded, not ended yet, or the replay is gone).
	 */
	state: 'queued' | 'waiting' | 'running' | 'ready' | 'failed' | 'none';
	/** 0–100. */
	percent: number;
	/** Size of the MP4, when ready. */
	bytes?: number;
	/** Where to download it, when ready. */
	url?: string;
	error?: string;
}

/**
 * The public state of a replay's MP4 from its export job and the file on this node's disk. An export in progress
 * wins (a retry replaces the file when it is done); then the file, which outlives its job; then a failure.
 */
export function exportStatus(job: ExportState, file: { bytes: number } | undefined, url: string): ExportStatus {
	if (job.state === 'queued' || job.state === 'waiting' || job.state === 'running') return { state: job.state, percent: job.percent };
	if (file) return { state: 'ready', percent: 100, bytes: file.bytes, url };
	if (job.state === 'failed') return { state: 'failed', percent: 0, error: job.error ?? 'export failed' };
	// A completed job whose file is not here: pruned with its replay, or written on another machine's disk.
	return { state: 'none', percent: 0 };
}

/** The file name a download is saved under: the space's title in plain ASCII, or a name from its id. */
export function replayDownloadName(title: string | undefined, spaceId: string): string {
	const plain = (title ?? '')
		.normalize('NFKD')
		.replace(/[\u0300-\u036f]/g, '')
		.replace(/[^A-Za-z0-9 ._-]+/g, ' ')
		.trim()
		.replace(/\s+/g, '-')
		.replace(/^[.-]+/, '')
		.slice(0, 80)
		.replace(/[.-]+$/, '');
	return `${plain || `tribune-replay-${spaceId}`}.mp4`;
}
