import { SignalingError } from '../signaling/SignalingSocket.js';

/**
 * What a screen share asks the browser for: at most 1920 × 1080 (the browser scales a larger screen down) and 15
 * fps, the tab's sound if the user ticks it, and not this tab itself (sharing the stage page would loop).
 */
export const displayMediaOptions = {
	video: { width: { max: 1920 }, height: { max: 1080 }, frameRate: { ideal: 15, max: 15 } },
	audio: true,
	selfBrowserSurface: 'exclude',
	surfaceSwitching: 'include',
	systemAudio: 'exclude',
} as DisplayMediaStreamOptions;

/** This browser can share a screen (phones cannot: no getDisplayMedia). */
export const canShareScreen = (): boolean => typeof navigator !== 'undefined' && typeof navigator.mediaDevices?.getDisplayMedia === 'function';

/**
 * Keeps a captured screen inside ingest's bounds even where the browser ignored the request's maximum (a screen
 * larger than 1920 × 1080 is scaled down, keeping its shape). Best effort: a browser that refuses keeps its size, and
 * ingest ends a share past its bounds with a message.
 */
export async function fitScreen(track: MediaStreamTrack): Promise<void> {
	const { width = 0, height = 0 } = track.getSettings();
	const scale = Math.min(1, 1920 / Math.max(width, 1), 1920 / Math.max(height, 1), Math.sqrt((1920 * 1080) / Math.max(width * height, 1)));
	if (scale >= 1) return;
	// Refused: the share goes at its size, and ingest says so if that is past its bounds.
	await track.applyConstraints({ width: Math.floor(width * scale), height: Math.floor(height * scale), frameRate: { max: 15 } }).catch(() => undefined);
}

/** Why a share could not start, in words for its user (after "Could not share your screen: "). */
export function describeShareError(e: unknown): string {
	if (e instanceof SignalingError) {
		if (e.code === 'conflict') return `${e.message}.`;
		if (e.code === 'forbidden') return e.message.includes('replace') ? `${e.message}.` : 'you may not share a screen in this space.';
	}
	return e instanceof Error ? e.message : 'unknown error';
}
