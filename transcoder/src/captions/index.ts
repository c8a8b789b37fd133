export {
	captionSampleRateHz,
	type CaptionEngine,
	type CaptionEngineEvents,
	type CaptionEngineRestart,
	type CaptionFinal,
	type CaptionPartial,
	type CaptionWord,
} from './CaptionEngine.js';
export {
	captionChannel,
	captionCueSchema,
	captionLogKey,
	captionLogMaxLength,
	captionLogTtlS,
	captionModeHasBurnedIn,
	captionModeHasSidecar,
	captionModeSchema,
	parseCaptionCue,
	publishCaption,
	readCaptionLog,
	subscribeCaptions,
	type CaptionCue,
	type CaptionMode,
} from './captionFeed.js';
export { PocketsphinxEngine, pocketsphinxEngineDefaults, type PocketsphinxEngineOptions } from './PocketsphinxEngine.js';
export {
	buildPocketsphinxArgs,
	debianEnUsModelDir,
	pocketsphinxDefaults,
	resolvePocketsphinxOptions,
	type PocketsphinxOptions,
} from './pocketsphinxOptions.js';
export { VoiceGate, voiceGateDefaults, type VoiceGateOptions } from './VoiceGate.js';
export { normaliseWords, wordErrorRate, wordErrors, type WordErrors } from './wordErrorRate.js';
export { CaptionSession, type CaptionSessionOptions } from './CaptionSession.js';
export { SpeakerCaptioner, type SpeakerCaptionerOptions } from './SpeakerCaptioner.js';
export { PcmArrivalClock } from './PcmArrivalClock.js';
export { buildPcmDecoderArgs } from './buildPcmDecoderArgs.js';
