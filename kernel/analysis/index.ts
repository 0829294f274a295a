/**
 * TransferLab's transfer-analysis API, `tl` in notebook cells and
 * `const tl = require('transferlab')` in plain Node scripts.
 *
 * Start with `await tl.initBackend()` (the kernel does it at start-up), load data
 * (`tl.data.mnist()`), build models (`tl.resnet`, `tl.cnn`), train and fine-tune (`tl.train`),
 * then analyse what was transferred (PAPER.md §1–6).
 *
 * This file is a flat list of re-exports: each module adds its own lines.
 */
export { tf } from './tfjs';
export * from './errors';
export type { Model, NamedWeights, ForwardOptions, ForwardResult } from './modelContract';
export { moduleOf } from './modelContract';
export { backend, initBackend, BackendName, BACKEND_NAMES, BACKEND_ENV, isBackendName } from './backends';
export type { BackendInfo, InitBackendOptions } from './backends';
export type { BackendMemory, GpuInfo } from './backends';
export { cnn, resnet, modelFromConfig, isNetModel, NetModel, Norm, isNorm } from './netModel';
export type { CnnOptions, ResNetOptions, ModelConfig, CnnConfig, ResNetConfig } from './netModel';
export { checkData, labelsOf } from './dataset';
export type { DataLike } from './dataset';
export { evaluate, lossAndCorrect } from './evaluation';
export type { EvaluateOptions, Evaluation } from './evaluation';
export { train, learningRate, TrainingRun } from './train';
export type { TrainOptions, Schedule } from './trainingOptions';
export { fineTune, trainFromScratch, compareTransfer, TransferComparison } from './transfer';
export type { FineTuneOptions, CompareTransferOptions } from './transfer';
export type { HistoryPoint } from './progressGroup';
export { OptimizerName, isOptimizerName } from './optimizers';
export { setProgressFactory, createProgress, progressLine, trainingBundle, StderrProgress } from './progress';
export { stoppedPayload } from './progress';
export type { Progress, ProgressFactory, TrainingProgress } from './progress';
export { Checkpoint, saveCheckpoint, loadCheckpoint, saveModel, loadModel, checkpointSweep, CheckpointSweepResult } from './checkpointSweep';
export type { CheckpointSweepOptions, SweepRow } from './checkpointSweep';
export * as data from './dataLoaders';
export { Dataset } from './dataset';
export { ImageStream } from './imageStream';
export { isDataStream } from './dataStream';
export type { DataStream, Batch, DataSource } from './dataStream';
export { showImages, ImagesResult, encodePng } from './preview';
export type { ShowImagesOptions } from './preview';
export { blockShuffle, pixelShuffle, blockPermutation, shufflePreview } from './shuffle';
export type { ShuffleOptions, ShufflePreviewOptions } from './shuffle';
export { DISPLAY } from './display';
export type { Displayable } from './display';
export * as cka from './cka';
export { CkaResult, MinibatchCka } from './cka';
export { CkaPanels } from './cka';
export { CkaEstimate } from './cka';
export type { CkaCell, CkaUncertainty } from './cka';
export type { UncertaintyOptions } from './resampling';
export type { Features, NamedFeatures, CkaKind, CkaAlgorithm, LinearOptions, RbfOptions, MatrixOptions, ModelMatrixOptions, MinibatchOptions } from './cka';
export * as similarity from './similarity';
export { SimilarityResult } from './similarity';
export type { SvccaOptions, PwccaOptions, ProcrustesOptions, RsaOptions, SimilarityMatrixOptions, ModelSimilarityMatrixOptions } from './similarity';
export { distance, distances, DistanceResult } from './distance';
export type { DistanceOptions, ModuleDistance, PairDistance, WeightsSource } from './distance';
export type { GroupBy } from './distance';
export { interpolate, interpolateAll, InterpolationResult } from './interpolate';
export type { InterpolateOptions, InterpolationCurve, Recalibration, BarrierInterval } from './interpolate';
export { BARRIER_DEFINITIONS } from './interpolate';
export type { BarrierDefinition, InterpolationCurveInit } from './interpolate';
export type { RecalibrationInfo, RecalibrationSource } from './evalGrid';
export { criticality, CriticalityResult } from './criticality';
export type { CriticalityOptions, ModuleCriticality, CriticalityPoint } from './criticality';
export * as stats from './stats';
export type { Interval } from './stats';
export { Findings, Verdict, isVerdict, verdictOf } from './findings';
export type { Claim, Finding, FindingInit, FindingTest, FindingFormat } from './findings';
export { align, AlignmentResult, linearAssignment, permuteUnits, permutationSpec } from './alignment';
export type { AlignOptions, AlignedGroup, AlignedCurve, AlignOption, Permutations, PermutationSpec, PermutationGroup, PermutedAxis, ScoreMatrix } from './alignment';
export { curvature, curvatureTable, CurvatureResult, CurvatureTable } from './curvature';
export type { CurvatureOptions, CurvatureMethod, ModuleCurvature, CriticalityLike } from './curvature';
export * as io from './io';
export { fromLayersModel, isLayersModelAdapter, LayersModelAdapter } from './layersModel';
export type { FromLayersModelOptions, LayerSelector, LayersModelLayout } from './layersModel';
export { fromGraphModel, GraphModelAdapter } from './graphModel';
export type { FromGraphModelOptions } from './graphModel';
export { toLayersModel } from './layersExport';
export { modelFiles } from './modelFiles';
export type { LoadModelOptions } from './checkpointFiles';
export { result, results, setResultDisplay, SweepResult } from './sweepResult';
