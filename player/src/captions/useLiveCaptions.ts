import { onBeforeUnmount, ref, watch, type Ref } from 'vue';
import type { SignalingSocket } from '../signaling/SignalingSocket.js';
import { applyCues, expireLines, type CaptionLine } from './liveCaptionLines.js';

/**
 * Live captions from the signaling WebSocket's `caption` events (for people on stage, who hear the speakers over
 * WebRTC, not the broadcast with its subtitle track): the last two lines, a partial replaced by its final.
 */
export function useLiveCaptions(socket: Ref<SignalingSocket | undefined>) {
	const lines = ref<CaptionLine[]>([]);
	let off: (() => void) | undefined;
	const timer = setInterval(() => {
		if (lines.value.length > 0) lines.value = expireLines(lines.value, Date.now());
	}, 1000);

	watch(
		socket,
		(s) => {
			off?.();
			off = s?.on('caption', ({ cues }) => (lines.value = applyCues(lines.value, cues, Date.now())));
		},
		{ immediate: true },
	);
	onBeforeUnmount(() => {
		off?.();
		clearInterval(timer);
	});

	return { lines, clear: () => (lines.value = []) };
}
