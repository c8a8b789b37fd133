import { defineConfig } from 'vitest/config';

// Workspace sources import each other through the `tribune-source` export condition, so tests run against
// src/ without a build.
const resolve = { conditions: ['tribune-source'] };

export default defineConfig({
	test: {
		projects: [
			{
				resolve,
				test: {
					name: 'unit',
					include: ['{api,ingest,transcoder,player}/src/**/*.test.ts'],
					environment: 'node',
				},
			},
			{
				resolve,
				test: {
					name: 'integration',
					include: ['{api,ingest,transcoder,player}/test/**/*.test.ts'],
					environment: 'node',
					// Real Redis for every integration test; each test picks its own key prefix.
					globalSetup: ['scripts/test/globalSetup.ts'],
					// Real processes (mediasoup workers, ffmpeg, Chromium) on 2 cores: one file at a time.
					fileParallelism: false,
					testTimeout: 60_000,
					hookTimeout: 60_000,
				},
			},
		],
	},
});
