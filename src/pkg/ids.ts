// 64-bit member and cluster IDs are bigint everywhere; logs and files show them in hex, as etcd's
// types.ID does. (The IDs themselves are derived in membership/member.ts.)
export const idHex = (id: bigint): string => id.toString(16);
