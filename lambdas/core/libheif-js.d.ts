/** libheif-js ships no typings for its entry points; heic-decoder.ts declares the part of the API it uses. */
declare module 'libheif-js/libheif-wasm/libheif-bundle.js';
