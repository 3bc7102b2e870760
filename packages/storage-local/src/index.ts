export { createLocalStorage, LocalStorage, type LocalStorageOptions } from './local-storage.js';
export { bargePlugin, type LocalStorageConfig, localStorageConfigSchema } from './plugin.js';
