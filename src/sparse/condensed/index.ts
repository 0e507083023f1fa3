export * from './layer.js';
export * from './csr.js';
export * from './upload.js';
export * from './model.js';
