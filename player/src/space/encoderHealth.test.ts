import { describe, expect, it } from 'vitest';
import { describeEncoderHealth } from './encoderHealth.js';

describe('describeEncoderHealth()', () => {
	it('says what was shed in plain words, in shed order', () => {
		expect(describeEncoderHealth({ health: 'ok', shed: ['720p', 'fps'] })).toEqual({ shed: 'Broadcast reduced to keep up: 720p picture, frame rate' });
		expect(describeEncoderHealth({ health: 'slow', shed: ['720p', 'fps', 'preset', 'fps-low'] })).toEqual({
			health: 'Encoder slower than real time',
			shed: 'Broadcast reduced to keep up: 720p picture, frame rate, picture quality, frame rate (further)',
		});
	});

	it('tells a starting or stuck encoder apart and says nothing of one keeping up with nothing shed', () => {
		expect(describeEncoderHealth({ health: 'starting', shed: [] })).toEqual({ health: 'Encoder starting' });
		expect(describeEncoderHealth({ health: 'stuck' })).toEqual({ health: 'Encoder not responding' });
		expect(describeEncoderHealth({ health: 'ok', shed: [] })).toEqual({});
	});

	it('tolerates an older transcoder (no health, no shed) and ids it does not know', () => {
		expect(describeEncoderHealth(undefined)).toEqual({});
		expect(describeEncoderHealth({})).toEqual({});
		expect(describeEncoderHealth({ shed: ['captions-silent'] })).toEqual({ shed: 'Broadcast reduced to keep up: captions-silent' });
	});
});
