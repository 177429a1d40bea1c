/** Images: the model, the image store (records, references), unpacking, archives. */
export * from './types';
export { chainIDs, chainID } from './chainid';
export { imageMigrations } from './migrations';
export { ImageStore, IMAGE_OWNER_KIND, imageResources, type MovedRef } from './store';
export { unpackLayers, upperDirOf, type LayerApplier, type UnpackLayer, type UnpackOptions } from './unpack';
export { applyChanges } from './changes';
export { StagedArchive, type StagedFile } from './staging';
export { planLoad, parseImageConfig, goArch, type LoadPlan } from './archive-format';
export { writeDockerArchive, type SaveImage } from './save';
