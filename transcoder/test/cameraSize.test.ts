import { afterEach, describe, expect, it } from 'vitest';
import { CameraRig, colourBox, fillerPixels } from './support/cameraRig.js';

/**
 * Cameras are drawn at their tile's size: a real ffmpeg runs the plan's composite fed by the slots' real
 * `Vp8SlotRelay`s, cameras (libvpx over RTP) join slots and `LiveComposite` shows each one as its relay starts
 * forwarding it, as `runStageBroadcast` does. Once reported as dots a few pixels wide in empty tiles: the scale kept
 * the size it had computed for the relay's 16×16 filler (`eval=init`) and the tile showed the filler pictures still
 * on their way through a busy encode.
 */
describe('cameras in the composite', () => {
	let rig: CameraRig | undefined;
	afterEach(async () => {
		await rig?.close();
		rig = undefined;
	});

	/** The largest even size of `camera`'s aspect ratio within `tile`. */
	const fit = (camera: { width: number; height: number }, tile: { width: number; height: number }) => {
		const scale = Math.min(tile.width / camera.width, tile.height / camera.height);
		return { width: Math.floor((camera.width * scale) / 2) * 2, height: Math.floor((camera.height * scale) / 2) * 2 };
	};
	const near = (box: { width: number; height: number }, expected: { width: number; height: number }) =>
		Math.abs(box.width - expected.width) <= 2 && Math.abs(box.height - expected.height) <= 2;

	it('a camera is drawn at the largest fit of its aspect ratio in its tile from its first picture, never as its slot filler, and fitted again when it changes size', async () => {
		rig = await CameraRig.start(2);
		const tile = rig.tile('s0');
		let filler = 0;
		let sampled = 0;
		// From the moment the slot follows a camera, every frame: the middle of the tile shows the tile colour or the camera.
		const unwatch = rig.watch((frame) => {
			sampled++;
			filler = Math.max(filler, fillerPixels(frame, tile));
		});
		const wide = { width: 640, height: 360, colour: '#e02020' };
		const stopWide = await rig.camera('s0', wide);
		const wideFit = fit(wide, tile);
		const describeBox = (colour: string) => (frame: Buffer) => JSON.stringify(colourBox(frame, tile, colour));
		await rig.frameWhere((frame) => near(colourBox(frame, tile, wide.colour), wideFit), 20_000, `the ${wide.width}×${wide.height} camera at ${wideFit.width}×${wideFit.height}`, describeBox(wide.colour));

		// The sender changes size (a browser adapting its resolution): the same slot, another SSRC, a 4:3 picture.
		const square = { width: 640, height: 480, colour: '#2020e0' };
		const squareFit = fit(square, tile);
		await rig.camera('s0', square);
		await rig.frameWhere((frame) => near(colourBox(frame, tile, square.colour), squareFit), 20_000, `the ${square.width}×${square.height} camera at ${squareFit.width}×${squareFit.height}`, describeBox(square.colour));
		stopWide();
		unwatch();
		expect(sampled).toBeGreaterThan(10);
		expect(filler, 'filler pixels drawn in the middle of the tile').toBe(0);
	}, 55_000);
});
