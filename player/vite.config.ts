import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

export default defineConfig({
	plugins: [vue()],
	build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
	server: {
		// `npm run dev -w player` proxies the API node started by `npm start`.
		proxy: { '/api': 'http://localhost:8080', '/hls': 'http://localhost:8080', '/healthz': 'http://localhost:8080', '/ws': { target: 'ws://localhost:8080', ws: true } },
	},
});
