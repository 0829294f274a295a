export declare const EXTENSION_MAIN: 'dist/extension.js';
export declare const NPM_ONLY_KEYS: readonly string[];
export declare function extensionManifest<T extends Record<string, unknown>>(manifest: T): Omit<T, 'main'> & { main: typeof EXTENSION_MAIN };
