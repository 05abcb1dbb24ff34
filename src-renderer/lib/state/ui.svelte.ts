// View and theme. The theme follows prefers-color-scheme until the user picks one.
export type View = 'images' | 'batch' | 'model';
export type Theme = 'light' | 'dark';

const THEME_KEY = 'reslens.theme';

export class UiState {
  view = $state<View>('images');
  theme = $state<Theme>('light');
  private explicit = false;

  init(): void {
    const media = window.matchMedia('(prefers-color-scheme: dark)');
    let saved: string | null = null;
    try {
      saved = localStorage.getItem(THEME_KEY);
    } catch {
      // storage disabled
    }
    if (saved === 'light' || saved === 'dark') {
      this.explicit = true;
      this.apply(saved);
    } else {
      this.theme = media.matches ? 'dark' : 'light';
    }
    media.addEventListener('change', (event) => {
      if (!this.explicit) this.theme = event.matches ? 'dark' : 'light';
    });
  }

  private apply(theme: Theme): void {
    this.theme = theme;
    document.documentElement.dataset.theme = theme;
  }

  setTheme(theme: Theme, remember = true): void {
    this.explicit = true;
    this.apply(theme);
    if (!remember) return;
    try {
      localStorage.setItem(THEME_KEY, theme);
    } catch {
      // storage disabled
    }
  }

  toggleTheme(): void {
    this.setTheme(this.theme === 'dark' ? 'light' : 'dark');
  }
}
