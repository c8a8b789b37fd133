export { loadIngestConfig, type IngestConfig } from './config.js';
export { parseEnv, envValue, ConfigError, exitCodes } from './parseEnv.js';
export { TypedEmitter, type EventMap } from './TypedEmitter.js';
export { WorkerPool, type WorkerPoolEvents } from './WorkerPool.js';
export { routerMediaCodecs } from './mediaCodecs.js';
export { allocateUdpPortPair, type UdpPortPair } from './plainRtp/allocateUdpPortPair.js';
export { buildConsumerSdp, type SdpStream } from './plainRtp/buildConsumerSdp.js';
export { buildRtpSenderPlan, type RtpSenderPlan, type RtpSenderSpec, type RtpTarget } from './plainRtp/buildRtpSenderPlan.js';
export { waitForUdpPortsBound } from './plainRtp/waitForUdpPortsBound.js';
