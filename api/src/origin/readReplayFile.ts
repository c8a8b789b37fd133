import fs from 'node:fs/promises';
import path from 'node:path';
import { initName, segmentName, subtitlesRendition, vttName, type HlsFile } from '@tribune/transcoder';

/**
 * Reads a file of the replay store (`<hlsRoot>/<streamId>/…`, written by the packager). The path is built from the
 * parsed name, never from the request's text. Live playlist names map to the replay's VOD playlists: once a stream
 * has left origins' memory, its URLs play the replay.
 */
export async function readReplayFile(hlsRoot: string, file: HlsFile): Promise<Buffer | undefined> {
	const relative = replayPath(file);
	if (!relative) return undefined;
	try {
		return await fs.readFile(path.join(hlsRoot, file.streamId, relative));
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
		throw error;
	}
}

function replayPath(file: HlsFile): string | undefined {
	switch (file.kind) {
		case 'multivariant':
			return 'vod.m3u8';
		case 'media-playlist':
			return `${file.rendition}/vod.m3u8`;
		case 'init':
			return `${file.rendition}/${initName(file.index)}`;
		case 'segment':
			return `${file.rendition}/${segmentName(file.msn)}`;
		case 'vtt':
			return `${subtitlesRendition}/${vttName(file.msn)}`;
		case 'part':
			// Parts live in origins' memory only; the replay has whole segments.
			return undefined;
	}
}
