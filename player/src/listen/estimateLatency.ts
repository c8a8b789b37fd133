/**
 * Glass-to-glass delay a listener at the live edge has, estimated from a live media playlist: the wall clock of the
 * newest media (the last PROGRAM-DATE-TIME plus the media after it) is how far the origin is behind now, and
 * players stay PART-HOLD-BACK behind that. Returns ms, or undefined for a playlist without a PROGRAM-DATE-TIME.
 * Assumes the server's and this browser's clocks agree (NTP).
 */
export function estimateLatencyMs(playlist: string, nowMs: number): number | undefined {
	let pdtMs: number | undefined;
	let segmentsS = 0;
	let partsS = 0;
	let holdBackS = 0;
	for (const line of playlist.split('\n')) {
		if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) {
			pdtMs = Date.parse(line.slice('#EXT-X-PROGRAM-DATE-TIME:'.length));
			segmentsS = 0;
			partsS = 0;
		} else if (line.startsWith('#EXTINF:')) {
			segmentsS += Number.parseFloat(line.slice('#EXTINF:'.length));
			partsS = 0;
		} else if (line.startsWith('#EXT-X-PART:')) {
			partsS += Number.parseFloat(/DURATION=([0-9.]+)/.exec(line)?.[1] ?? '0');
		} else if (line.startsWith('#EXT-X-SERVER-CONTROL:')) {
			holdBackS = Number.parseFloat(/PART-HOLD-BACK=([0-9.]+)/.exec(line)?.[1] ?? '0');
		}
	}
	if (pdtMs === undefined || Number.isNaN(pdtMs)) return undefined;
	const edgeMs = pdtMs + (segmentsS + partsS) * 1000;
	return Math.max(0, Math.round(nowMs - edgeMs + holdBackS * 1000));
}
