/** Engine-level containers: the namespaced record and the run sequence on it. See docs/architecture.md. */
export { EngineContainers, type EngineContainersOptions, type TaskIO } from './containers';
export { ContainerRecordStore, engineContainerMigrations, type ContainerRecord, type NewContainer, type RuntimeInfo } from './store';
