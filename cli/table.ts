/** How a column lines up: text to the left, numbers to the right. */
export type Align = 'left' | 'right';

export interface Column {
  header: string;
  align?: Align;
}

/**
 * Renders rows as a plain-text table: a header line, then one line per row, columns separated by
 * two spaces and padded to their widest cell. No trailing spaces, so golden tests stay readable.
 */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((column, i) =>
    Math.max(column.header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    columns
      .map((column, i) => {
        const cell = cells[i] ?? '';
        const width = widths[i] ?? 0;
        return column.align === 'right' ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)].join('\n');
}
