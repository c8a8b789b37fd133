export { loadApiConfig, loadLauncherConfig, type ApiConfig, type LauncherConfig } from './config.js';
export { createApp, type AppDeps, type Health } from './createApp.js';
export { errorBody, errorCatalogue, TribuneError, type ErrorCode } from './errors.js';
export { EmbeddedRedis } from './launcher/EmbeddedRedis.js';
export { Supervisor, type ChildSpec } from './launcher/Supervisor.js';
