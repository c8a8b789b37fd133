import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Workspace sources import each other through the `tribune-source` export condition, so tests run against
// src/ without a build. Tests run in Vite's server (SSR) environment, whose conditions are set apart from the
// browser's.
const conditions = ['tribune-source', ...defaultServerConditions];
const resolve = { conditions };
const ssr = { resolve: { conditions, externalConditions: conditions } };
// Tests create spaces anonymously (open hosting), in process and in the API processes they spawn, which inherit the
// environment; tests of the closed default set TRIBUNE_OPEN_HOSTING=false themselves.
const env = { TRIBUNE_OPEN_HOSTING: 'true' };

export default defineConfig({
	test: {
		projects: [
			{
				resolve,
				ssr,
				test: {
					name: 'unit',
					env,
					include: ['{api,ingest,transcoder,player}/src/**/*.test.ts'],
					environment: 'node',
				},
			},
			{
				resolve,
				ssr,
				test: {
					name: 'integration',
					env,
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
