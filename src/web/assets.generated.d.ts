/**
 * The types of `assets.generated.js`: what the hub serves to browsers, as strings, so that every
 * runtime serves it from memory (Workers have no filesystem). `npm run build:assets`
 * (`scripts/build-assets.ts`) writes that file from `src/client/`, `src/web/console/` and
 * `src/web/demo/`; it is not committed, and every start script, `wrangler dev|deploy` and the
 * tests build it first. This declaration is written by hand (so that type checks need no build),
 * and the build script is type-checked against it.
 */

/** `GET /client.js`: `src/client/index.ts` bundled into one minified ES module. */
export declare const clientBundle: string;
/** The strong `ETag` of {@link clientBundle}: a SHA-256 prefix. */
export declare const clientBundleEtag: string;

/** `GET /yjs.js`: `src/client/yjs/index.ts` with Yjs and y-protocols' awareness, one minified ES module. */
export declare const yjsBundle: string;
/** The strong `ETag` of {@link yjsBundle}. */
export declare const yjsBundleEtag: string;

/** `GET /`: `src/web/console/index.html`. */
export declare const consolePage: string;
/** `GET /console.js`: `src/web/console/main.ts` as an ES module. */
export declare const consoleScript: string;
/** `GET /console.css`: `src/web/console/style.css`. */
export declare const consoleStyle: string;

/** `GET /demo`: `src/web/demo/index.html`. */
export declare const demoPage: string;
/** `GET /demo.js`: `src/web/demo/main.ts` bundled as an ES module that imports `/client.js`. */
export declare const demoScript: string;
/** `GET /demo.css`: `src/web/demo/style.css`. */
export declare const demoStyle: string;
