/**
 * A frame counter burnt into the picture: a black strip with `bits` white-or-black boxes, box b lit when bit b of the
 * source frame number `n` is set. ffmpeg draws it (drawbox with a timeline `enable` expression per bit); the bench
 * page reads it back from the displayed frame, so the frame on screen is known exactly, whatever the player did.
 */
export const barcode = { bits: 16, boxPx: 16, originXPx: 8, originYPx: 4, heightPx: 16, stripWidthPx: 8 + 16 * 16 + 8, stripHeightPx: 24 } as const;

/** ffmpeg filter chain that draws the barcode (applied to the source before scaling; source width 640). */
export function barcodeFilter(): string {
	const boxes = Array.from({ length: barcode.bits }, (_, bit) => {
		const x = barcode.originXPx + barcode.boxPx * bit;
		return `drawbox=x=${x}:y=${barcode.originYPx}:w=${barcode.boxPx - 4}:h=${barcode.heightPx}:color=white:t=fill:enable='mod(floor(n/${2 ** bit}),2)'`;
	});
	return [`drawbox=x=0:y=0:w=${barcode.stripWidthPx}:h=${barcode.stripHeightPx}:color=black:t=fill`, ...boxes].join(',');
}

/**
 * Browser-side reader, as page script text: on every presented frame (requestVideoFrameCallback) it copies the strip
 * into a canvas, decodes the frame number, and logs it with Date.now() (same clock as the test process).
 */
export function barcodeReaderScript(sourceWidthPx: number): string {
	return `
window.tribuneFrames = [];
(function () {
	const video = document.getElementById('video');
	const canvas = document.createElement('canvas');
	const ctx = canvas.getContext('2d', { willReadFrequently: true });
	const onFrame = (_now, metadata) => {
		const scale = video.videoWidth / ${sourceWidthPx};
		if (scale > 0) {
			const w = Math.ceil(${barcode.stripWidthPx} * scale), h = Math.ceil(${barcode.stripHeightPx} * scale);
			canvas.width = w; canvas.height = h;
			ctx.drawImage(video, 0, 0, w, h, 0, 0, w, h);
			const pixels = ctx.getImageData(0, 0, w, h).data;
			let n = 0;
			for (let bit = 0; bit < ${barcode.bits}; bit++) {
				const x = Math.floor((${barcode.originXPx} + ${barcode.boxPx} * bit + ${(barcode.boxPx - 4) / 2}) * scale);
				const y = Math.floor((${barcode.originYPx} + ${barcode.heightPx / 2}) * scale);
				const i = (y * w + x) * 4;
				if (pixels[i] + pixels[i + 1] + pixels[i + 2] > 384) n |= 1 << bit;
			}
			// expectedDisplayTime: when the compositor shows this frame, on the performance clock.
			const shownAt = Date.now() + (metadata.expectedDisplayTime - performance.now());
			window.tribuneFrames.push({ n, shownAt });
		}
		video.requestVideoFrameCallback(onFrame);
	};
	video.requestVideoFrameCallback(onFrame);
})();`;
}
