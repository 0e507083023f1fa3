export {
  encodeSafetensors,
  writeSafetensors,
  readSafetensors,
  SafetensorsError,
  DEFAULT_MAX_HEADER_BYTES,
  type SafeTensor,
  type SafetensorsArray,
  type SafetensorsDtype,
  type SafetensorsFile,
  type ReadSafetensorsOptions,
} from './safetensors.js';
export { writeFileAtomic } from './atomic.js';
export {
  modelToOnnx, summarizeOnnx, ortSession, ONNX_IR_VERSION, ONNX_OPSET, ONNX_INPUT, ONNX_OUTPUT, ONNX_BATCH_DIM, SRIGL_VERSION,
  type ModelToOnnxOptions, type OnnxSummary, type OrtModule, type OrtSessionHandle, type OrtSessionOptions, type OrtClassifier,
} from './onnx.js';
export {
  readStateDict, mapStateDict, importStateDict, buildImportedModel, readTensor, TorchImportError, TorchStorage, TorchTensor,
  type StateDict, type StateDictTensor, type StateDictFormat, type ReadStateDictOptions, type ImportOptions, type ImportedModel,
  type ImportedLayer, type BuildImportedOptions, type TorchDtype,
} from './torch.js';
export { openZip, isZip, crc32, ZipArchive, ZipError, type ZipEntry, type OpenZipOptions, type InflateRaw } from './zip.js';
export {
  unpickle, PickleError, PickleCallable, PyDict, PyTuple, PySet,
  type PickleHooks, type PickleLimits, type PyValue, type PyKey, type Unpickled,
} from './pickle.js';
