"""Password hashing: Argon2id at OWASP's recommended minimum, so one sign-in costs the server little CPU.

Django's default, PBKDF2 with 1,000,000 iterations, costs about 0.5 s of CPU per check on our machines: a public
login endpoint hands that to anyone who asks (throttling bounds how often). Argon2id with 19 MiB, two passes and one
lane (OWASP Password Storage Cheat Sheet, the first of its equivalent Argon2id settings) costs about 0.05 s and is
memory-hard, which is what slows an attacker's GPUs down, not the server's CPU. Passwords stored with an older
hasher still verify and are rehashed with this one at the next successful sign-in (Django's upgrade on login).
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class RunAmArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
