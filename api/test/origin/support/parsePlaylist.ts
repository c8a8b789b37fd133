/** Test-side reading of LL-HLS playlists, independent of the writer under test. */

export interface ParsedPart {
	uri: string;
	durationS: number;
	independent: boolean;
}

export interface ParsedSegment {
	msn: number;
	uri: string | undefined;
	durationS: number | undefined;
	pdt: string | undefined;
	discontinuity: boolean;
	map: string | undefined;
	parts: ParsedPart[];
	/** EXT-X-GAP: a placeholder with no media. */
	gap: boolean;
}

export interface ParsedMediaPlaylist {
	text: string;
	version: number;
	targetDurationS: number;
	partTargetS: number | undefined;
	serverControl: Record<string, string>;
	mediaSequence: number;
	discontinuitySequence: number;
	skipped: number;
	playlistType: string | undefined;
	segments: ParsedSegment[];
	preloadHint: string | undefined;
	renditionReports: { uri: string; lastMsn: number; lastPart: number }[];
	endList: boolean;
}

export function attributes(list: string): Record<string, string> {
	const result: Record<string, string> = {};
	for (const match of list.matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) {
		result[match[1] as string] = (match[2] as string).replace(/^"|"$/g, '');
	}
	return result;
}

export function parseMediaPlaylist(text: string): ParsedMediaPlaylist {
	const lines = text.split('\n').filter((l) => l !== '');
	if (lines[0] !== '#EXTM3U') throw new Error('not a playlist');
	const p: ParsedMediaPlaylist = {
		text, version: 0, targetDurationS: 0, partTargetS: undefined, serverControl: {}, mediaSequence: 0, discontinuitySequence: 0,
		skipped: 0, playlistType: undefined, segments: [], preloadHint: undefined, renditionReports: [], endList: false,
	};
	let current: Omit<ParsedSegment, 'msn'> | undefined;
	let map: string | undefined;
	const open = (): Omit<ParsedSegment, 'msn'> => (current ??= { uri: undefined, durationS: undefined, pdt: undefined, discontinuity: false, map, parts: [], gap: false });
	for (const line of lines.slice(1)) {
		const [tag, value = ''] = line.startsWith('#') ? [line.slice(0, line.indexOf(':') < 0 ? line.length : line.indexOf(':')), line.slice(line.indexOf(':') + 1)] : ['URI', line];
		switch (tag) {
			case '#EXT-X-VERSION': p.version = Number(value); break;
			case '#EXT-X-TARGETDURATION': p.targetDurationS = Number(value); break;
			case '#EXT-X-PART-INF': p.partTargetS = Number(attributes(value)['PART-TARGET']); break;
			case '#EXT-X-SERVER-CONTROL': p.serverControl = attributes(value); break;
			case '#EXT-X-MEDIA-SEQUENCE': p.mediaSequence = Number(value); break;
			case '#EXT-X-DISCONTINUITY-SEQUENCE': p.discontinuitySequence = Number(value); break;
			case '#EXT-X-PLAYLIST-TYPE': p.playlistType = value; break;
			case '#EXT-X-SKIP': p.skipped = Number(attributes(value)['SKIPPED-SEGMENTS']); break;
			case '#EXT-X-MAP': map = attributes(value).URI; if (current) current.map = map; break;
			case '#EXT-X-DISCONTINUITY': open().discontinuity = true; break;
			case '#EXT-X-PROGRAM-DATE-TIME': open().pdt = value; break;
			case '#EXT-X-GAP': open().gap = true; break;
			case '#EXT-X-PART': {
				const a = attributes(value);
				open().parts.push({ uri: a.URI as string, durationS: Number(a.DURATION), independent: a.INDEPENDENT === 'YES' });
				break;
			}
			case '#EXTINF': open().durationS = Number(value.split(',')[0]); break;
			case 'URI':
				open().uri = value;
				p.segments.push({ ...(current as Omit<ParsedSegment, 'msn'>), msn: 0 });
				current = undefined;
				break;
			case '#EXT-X-PRELOAD-HINT': p.preloadHint = attributes(value).URI; break;
			case '#EXT-X-RENDITION-REPORT': {
				const a = attributes(value);
				p.renditionReports.push({ uri: a.URI as string, lastMsn: Number(a['LAST-MSN']), lastPart: Number(a['LAST-PART']) });
				break;
			}
			case '#EXT-X-ENDLIST': p.endList = true; break;
			default: break;
		}
	}
	if (current) p.segments.push({ ...current, msn: 0 });
	p.segments.forEach((s, i) => (s.msn = p.mediaSequence + p.skipped + i));
	return p;
}

/** The position a blocking request for the next part asks for. */
export function lastPosition(p: ParsedMediaPlaylist): { msn: number; part: number } {
	const last = p.segments.at(-1);
	if (!last) return { msn: p.mediaSequence, part: -1 };
	return { msn: last.msn, part: last.parts.length - 1 };
}

/** One variant stream of a multivariant playlist (EXT-X-STREAM-INF and the URI line after it). */
export interface ParsedVariant {
	uri: string;
	attributes: Record<string, string>;
}

export interface ParsedMultivariant {
	variants: ParsedVariant[];
	/** EXT-X-MEDIA renditions (subtitles, alternative audio). */
	media: Record<string, string>[];
}

export function parseMultivariant(text: string): ParsedMultivariant {
	const lines = text.split('\n').filter((l) => l !== '');
	if (lines[0] !== '#EXTM3U') throw new Error('not a playlist');
	const result: ParsedMultivariant = { variants: [], media: [] };
	let pending: Record<string, string> | undefined;
	for (const line of lines.slice(1)) {
		if (line.startsWith('#EXT-X-STREAM-INF:')) pending = attributes(line.slice('#EXT-X-STREAM-INF:'.length));
		else if (line.startsWith('#EXT-X-MEDIA:')) result.media.push(attributes(line.slice('#EXT-X-MEDIA:'.length)));
		else if (!line.startsWith('#') && pending) {
			result.variants.push({ uri: line, attributes: pending });
			pending = undefined;
		}
	}
	return result;
}
