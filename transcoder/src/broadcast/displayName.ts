/**
 * A name as drawn: control characters and line breaks removed, at most 32 characters (with an ellipsis), and a
 * muted marker. Whatever the characters, it only ever reaches ffmpeg quoted for every parser on its way (see
 * `quoteFfmpegToken`).
 */
export function displayName(name: string, muted: boolean): string {
	// eslint-disable-next-line no-control-regex
	const clean = name.normalize('NFC').replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').replace(/\s+/g, ' ').trim() || 'Speaker';
	const chars = [...clean];
	const short = chars.length > 32 ? `${chars.slice(0, 31).join('')}…` : clean;
	return muted ? `${short} (muted)` : short;
}
