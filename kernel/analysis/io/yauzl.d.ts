// The part of yauzl (an unzip library for Node, https://github.com/thejoshwolfe/yauzl) that
// readNpz uses; yauzl ships no types of its own.
declare module 'yauzl' {
  import type { Readable } from 'node:stream';

  export interface Options {
    readonly autoClose?: boolean;
    readonly lazyEntries?: boolean;
    readonly decodeStrings?: boolean;
    readonly validateEntrySizes?: boolean;
    readonly strictFileNames?: boolean;
  }

  export interface Entry {
    readonly fileName: string;
    readonly compressedSize: number;
    readonly uncompressedSize: number;
    readonly compressionMethod: number;
    /** CRC-32 of the uncompressed data, as the central directory gives it (yauzl does not check it). */
    readonly crc32: number;
    isEncrypted(): boolean;
  }

  export interface ZipFile {
    readonly entryCount: number;
    readonly fileSize: number;
    eachEntry(): AsyncIterableIterator<Entry>;
    openReadStreamPromise(entry: Entry): Promise<Readable>;
    close(): void;
  }

  export function openPromise(path: string, options?: Options): Promise<ZipFile>;
}
