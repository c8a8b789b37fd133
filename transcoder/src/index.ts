export { loadTranscoderConfig, redisUrlEnv, type TranscoderConfig } from './config.js';
export { createLogger } from './logger.js';
export { connectRedis, isRedisUrl, redisOptionsFromUrl } from './redisConnection.js';
export { TranscoderPresence, presenceTiming, type TranscoderInfo } from './TranscoderPresence.js';
export * from './broadcast/index.js';
export * from './captions/index.js';
export * from './export/index.js';
export * from './hls/index.js';
export * from './stageLink/index.js';
