/**
 * One object's history as Describe* sees it. EC2 is eventually consistent: a mutation reaches the
 * Describe calls (and IMDS) some time after the API call returned. Each write is stored with the
 * time it becomes visible; readers ask for the current value (what mutations act on) or for the
 * newest value visible at a time. `undefined` is a deletion.
 */
export class Versioned<T> {
  private entries: { visibleAt: number; value: T | undefined }[] = [];

  constructor(value: T, visibleAt: number) {
    this.entries.push({ visibleAt, value });
  }

  get current(): T | undefined {
    return this.entries[this.entries.length - 1]?.value;
  }

  set(value: T | undefined, visibleAt: number): void {
    const last = this.entries[this.entries.length - 1];
    // Writes in the same instant (or with a shorter delay, after a config change) replace the tail
    // so that visibility never goes back in time.
    if (last && last.visibleAt >= visibleAt) {
      last.value = value;
      return;
    }
    this.entries.push({ visibleAt, value });
  }

  /** The newest value visible at `now`; undefined if the object was not yet created or is deleted. */
  visible(now: number): T | undefined {
    const entries = this.entries;
    // Newest first: a Describe of the whole account reads every record, most of them long settled.
    let index = entries.length - 1;
    while (index >= 0 && (entries[index]?.visibleAt ?? 0) > now) index--;
    if (index > 0) entries.splice(0, index); // older versions can never be seen again
    return index >= 0 ? entries[0]?.value : undefined;
  }

  /** True when the object is deleted and every reader already sees the deletion. */
  isGone(now: number): boolean {
    const only = this.entries.length === 1 ? this.entries[0] : undefined;
    return only !== undefined && only.value === undefined && only.visibleAt <= now;
  }
}
