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
export { ChildRecogniserEngine, childRecogniserEngineDefaults, type ChildRecogniser, type ChildRecogniserEngineOptions } from './ChildRecogniserEngine.js';
export { PocketsphinxEngine, pocketsphinxEngineDefaults, type PocketsphinxEngineOptions } from './PocketsphinxEngine.js';
export {
	buildPocketsphinxArgs,
	debianEnUsModelDir,
	pocketsphinxDefaults,
	resolvePocketsphinxOptions,
	type PocketsphinxOptions,
} from './pocketsphinxOptions.js';
export { VoiceGate, voiceGateDefaults, type VoiceGateOptions } from './VoiceGate.js';
export { SherpaOnnxEngine, sherpaOnnxDecoderDefaults, sherpaOnnxEngineDefaults, type SherpaOnnxEngineOptions } from './SherpaOnnxEngine.js';
export { resolveSherpaModelFiles, sherpaModelProblems, sherpaOnnxPackage, type SherpaModelFiles } from './sherpaOnnxModel.js';
export { probeSherpaOnnxEngine } from './sherpaOnnxPreflight.js';
export { normaliseWords, wordErrorRate, wordErrors, type WordErrors } from './wordErrorRate.js';
export { CaptionSession, type CaptionSessionOptions } from './CaptionSession.js';
export { SpeakerCaptioner, type SpeakerCaptionerOptions } from './SpeakerCaptioner.js';
export { PcmArrivalClock } from './PcmArrivalClock.js';
export { buildPcmDecoderArgs } from './buildPcmDecoderArgs.js';
export { BroadcastCaptions, type BroadcastCaptionsOptions } from './BroadcastCaptions.js';
export { BurnedInCaptions, type BurnedInCaptionsOptions } from './BurnedInCaptions.js';
export { burnedInCaptionFilter } from './burnedInCaptionFilter.js';
export { burnedInCaptionStyle, formatBurnedInText, type BurnedInLayout, type BurnedInLine } from './formatBurnedInText.js';
export { wallClockToMediaS, wallClockToTimelineS, type SegmentClock, type TimelineSegmentClock } from './mediaTimeMapping.js';
export {
	buildTranscript,
	renderTranscriptFiles,
	renderTranscriptJson,
	renderTranscriptSrt,
	renderTranscriptTxt,
	renderTranscriptVtt,
	transcriptFileNames,
	type TranscriptCue,
	type TranscriptJson,
} from './transcript.js';
export {
	captionVocabularyChannel,
	captionVocabularyKey,
	captionVocabularyTtlS,
	readCaptionVocabulary,
	storedVocabularySchema,
	vocabularyLimits,
	vocabularyWords,
	writeCaptionVocabulary,
	type StoredVocabulary,
} from './captionVocabulary.js';
