// The versions this member reports (etcd's api/version): Maintenance.Status, /version, `tetcd --version`.
// tetcd answers as the etcd release whose behaviour it matches and is tested against: etcd 3.4.23, whose
// cluster version is 3.4.0 (the major.minor of its members, as etcd reports it).
export const SERVER_VERSION = '3.4.23';
export const CLUSTER_VERSION = '3.4.0';
