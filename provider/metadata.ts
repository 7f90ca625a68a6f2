/**
 * The instance metadata service as the provider reads it: one path at a time, e.g.
 * "instance-id" or "network/interfaces/macs/0a:1b:.../local-ipv4s". Returns undefined for 404.
 * The HTTP implementation speaks IMDSv2 (token PUT first); the simulator supplies an in-process one.
 */
export interface MetadataSource {
  get(path: string, signal?: AbortSignal): Promise<string | undefined>;
}
