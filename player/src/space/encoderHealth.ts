import type { BroadcastProgress } from '../api/restApi.js';

/** How the encoder keeps up, for the host panel; nothing while it does (or an older transcoder says nothing). */
const healthWords: Record<string, string> = {
	starting: 'Encoder starting',
	slow: 'Encoder slower than real time',
	stuck: 'Encoder not responding',
};

/** What each shed id gives up, in plain words (ids from the transcoder's encode levels). */
const shedWords: Record<string, string> = {
	fps: 'frame rate',
	'fps-low': 'frame rate (further)',
	preset: 'picture quality',
};

/**
 * The host panel's words for the encoder's state beside its speed: its health when it is not simply keeping up, and
 * what the broadcast gave up to keep up ("Broadcast reduced to keep up: 720p picture, frame rate"). A video
 * rendition's name (`720p`) shed means that picture is served from a smaller encode. Fields absent (a transcoder from
 * before they existed) say nothing.
 */
export function describeEncoderHealth(progress: Pick<BroadcastProgress, 'health' | 'shed'> | undefined): { health?: string; shed?: string } {
	const words: { health?: string; shed?: string } = {};
	const health = progress?.health !== undefined ? healthWords[progress.health] : undefined;
	if (health) words.health = health;
	const shed = (progress?.shed ?? []).map((id) => shedWords[id] ?? (/^\d+p$/.test(id) ? `${id} picture` : id));
	if (shed.length > 0) words.shed = `Broadcast reduced to keep up: ${shed.join(', ')}`;
	return words;
}
