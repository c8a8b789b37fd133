// First: zod must be jitless before any schema is built (see cspSafeZod.ts).
import './cspSafeZod.js';
import { createApp } from 'vue';
import App from './App.vue';
import './style.css';

createApp(App).mount('#app');
