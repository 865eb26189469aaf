/**
 * The work buildEndpoints did since the process started: an endpoint change should cost what it
 * touched, not the mesh (tests count these).
 */
export const endpointWork = { slicesGrouped: 0, servicesBuilt: 0, podKeysIndexed: 0, podLookups: 0, podKeyHostIndexes: 0 };
