import type { StreamDescriptor } from './HlsEvent.js';
import { subtitlesRendition } from './hlsNames.js';

const subtitlesGroup = 'subs';

/**
 * Renders the multivariant playlist: one EXT-X-STREAM-INF per rendition (video renditions carry their AAC track;
 * the audio-only rendition is listed last, for listeners on poor links) and a WebVTT subtitles group.
 * `playlist` names each media playlist (`index.m3u8` live, `vod.m3u8` replay).
 *
 * The subtitles rendition is always listed (a caption mode turned on mid-broadcast must not change the group players
 * hold) with AUTOSELECT=YES: a player may pick it for a user whose settings ask for captions (RFC 8216bis
 * §4.4.6.1). DEFAULT=YES, which tells a player to show it when its user said nothing, only while the stream has
 * captions to show ({@link StreamDescriptor.subtitlesDefault}): a track shown by default but empty while captions are
 * off is a blank caption area in players that honour DEFAULT (hls.js with `subtitleDisplay`, Safari).
 */
export function renderMultivariantPlaylist(stream: StreamDescriptor, playlist: 'index.m3u8' | 'vod.m3u8'): string {
	const lines = ['#EXTM3U', '#EXT-X-VERSION:9', '#EXT-X-INDEPENDENT-SEGMENTS'];
	if (stream.subtitles) {
		lines.push(
			`#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="${subtitlesGroup}",NAME="Captions",LANGUAGE="en",DEFAULT=${stream.subtitlesDefault === true ? 'YES' : 'NO'},AUTOSELECT=YES,FORCED=NO,URI="${subtitlesRendition}/${playlist}"`,
		);
	}
	const ordered = [...stream.renditions].sort((a, b) => kindOrder(a.kind) - kindOrder(b.kind) || b.bandwidth - a.bandwidth);
	for (const rendition of ordered) {
		const attributes = [`BANDWIDTH=${rendition.bandwidth}`];
		if (rendition.averageBandwidth !== undefined) attributes.push(`AVERAGE-BANDWIDTH=${rendition.averageBandwidth}`);
		attributes.push(`CODECS="${rendition.codecs.join(',')}"`);
		if (rendition.width && rendition.height) attributes.push(`RESOLUTION=${rendition.width}x${rendition.height}`);
		if (rendition.frameRate) attributes.push(`FRAME-RATE=${rendition.frameRate.toFixed(3)}`);
		if (stream.subtitles) attributes.push(`SUBTITLES="${subtitlesGroup}"`);
		lines.push(`#EXT-X-STREAM-INF:${attributes.join(',')}`, `${rendition.name}/${playlist}`);
	}
	return `${lines.join('\n')}\n`;
}

const kindOrder = (kind: 'video' | 'audio'): number => (kind === 'video' ? 0 : 1);
