/** What the hub serves to browsers: the console, the demo, their assets and the client at `/client.js`. */
export { type PagesOptions, servePages } from './pages.ts';
