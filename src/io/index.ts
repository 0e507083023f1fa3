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
