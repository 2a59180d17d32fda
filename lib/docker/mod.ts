/**
 * Docker environments: engine and project checks, the image (as is, or built and reused by
 * content), the `docker run` invocation, and a cancellable container handle.
 *
 * Wiring, in pipeline order:
 * 1. plan: `validateDockerProject(project)`, `await checkDockerEngine({ env })`;
 * 2. environment: `const image = await resolveDockerImage(project, { buildImage, env, reporter })`;
 *    record `dockerImageTags(image)` on the run;
 * 3. launch: `const inv = dockerRunArgs({ image: image.uri, command: containerCommand(cmd), … })`,
 *    `const c = startContainer(inv, { stdout, killGraceMs })`; `await c.status`; `c.cancel()`.
 *
 * @module
 */
export { checkDockerEngine, type DockerEngine, validateDockerProject } from "./checks.ts";
export {
  type DockerignoreMatcher,
  dockerignoreMatcher,
  parseDockerignore,
  readDockerignore,
} from "./dockerignore.ts";
export {
  type BuildContext,
  type ContextEntry,
  contextHash,
  generatedDockerfile,
  IMAGE_WORKDIR,
  scanBuildContext,
} from "./build_context.ts";
export {
  type DockerImage,
  type DockerImageLookup,
  type DockerImageProject,
  dockerImageTags,
  imageRepository,
  lookupDockerImage,
  resolveDockerImage,
  type ResolveDockerImageOptions,
  trackingStorePaths,
} from "./image.ts";
export {
  CONTAINER_TRACKING_DIR,
  containerCommand,
  type DockerArg,
  dockerRunArgs,
  type DockerRunInvocation,
  type DockerRunRequest,
  parseDockerArgs,
  RUN_ID_LABEL,
} from "./run_args.ts";
export { type ContainerHandle, startContainer, type StartContainerOptions } from "./container.ts";
export { pushDockerImage, type PushDockerImageOptions, type PushedImage } from "./push.ts";
