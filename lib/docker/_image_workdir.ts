/**
 * Where `--build-image` copies the project in the image, and the image's working directory (as
 * in MLflow). Its own module so that `docker run` argument code does not load the build code.
 *
 * @module
 */

/** The project's directory inside a built image. */
export const IMAGE_WORKDIR = "/mlflow/projects/code/";
