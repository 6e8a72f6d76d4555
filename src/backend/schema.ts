// Every bucket the backend holds, and the meta keys. Bucket names are LMDB named databases.
export const BUCKETS = [
  'key',
  'meta',
  'lease',
  'auth',
  'authUsers',
  'authRoles',
  'members',
  'membersRemoved',
  'alarm',
] as const;

export type Bucket = (typeof BUCKETS)[number];

export const META_CONSISTENT_INDEX = Buffer.from('consistent_index');
export const META_TERM = Buffer.from('term');
export const META_SCHEDULED_COMPACT = Buffer.from('scheduledCompactRev');
export const META_FINISHED_COMPACT = Buffer.from('finishedCompactRev');
/** The member's own ID: never sent in a snapshot, never replaced by one. */
export const META_MEMBER_ID = Buffer.from('localMemberID');
