// The versions this member reports (etcd's api/version): Maintenance.Status, /version.
export const SERVER_VERSION = '3.5.0';
export const CLUSTER_VERSION = '3.5.0';
