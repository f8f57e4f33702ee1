// Vite's `?url` and `?worker` imports, for tsc (the page is bundled by Vite).
declare module '*?url' {
  const url: string;
  export default url;
}
declare module '*?worker' {
  const WorkerConstructor: { new (): Worker };
  export default WorkerConstructor;
}
