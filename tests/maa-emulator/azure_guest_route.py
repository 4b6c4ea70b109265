# POST /attest/AzureGuest of the emulator: api-version and Authorization, the checks of
# azure_guest.py, the faults that apply (deny, token faults, sealing faults), then the
# token of azure_guest_token.py sealed to the request's EncKey. Holds the route's settings.
import threading

import azure_guest
import azure_guest_token
import policy as policy_mod
from azure_pki import AzurePki
from common import ServiceError
from pki import TOKEN_FAULTS

ROUTE = 'azureguest'


class AzureGuestRoute:
    def __init__(self, state_dir, settings=None):
        self.state_dir = state_dir
        self.lock = threading.Lock()
        self.settings = azure_guest.validate_settings(settings or {})
        self._pki = None

    def pki(self):
        """Created on first use (three RSA keys and a P-384 key on a new state dir)."""
        with self.lock:
            if self._pki is None:
                self._pki = AzurePki(self.state_dir)
            return self._pki

    def get_settings(self):
        with self.lock:
            return dict(self.settings)

    def update_settings(self, changes, reset=False):
        """Apply `changes` over the settings in force, or over the defaults when `reset`."""
        with self.lock:
            base = None if reset else self.settings
            self.settings = azure_guest.validate_settings(changes, base)
            return dict(self.settings)

    @staticmethod
    def check_api_version(values, accepted):
        """Only the two versions the route has (§1.1), and within --api-versions."""
        if not values or not values[0]:
            raise ServiceError(400, 'MissingApiVersionParameter',
                               'The api-version query parameter (?api-version=) is required for '
                               'all requests.')
        allowed = [v for v in azure_guest.API_VERSIONS if accepted is None or v in accepted]
        if values[0] not in allowed:
            raise ServiceError(400, 'InvalidApiVersionParameter',
                               "The api-version '%s' is invalid. The supported versions are '%s'."
                               % (values[0], ','.join(allowed)))

    def attest(self, body, authorization, now, signer, issuer, faults):
        """Request body -> the `token` string of the reply."""
        settings = self.get_settings()
        azure_guest.check_authorization(settings, authorization)
        facts = azure_guest.verify(body, self.pki(), settings, now)
        if faults.take(('deny',), ROUTE):
            raise policy_mod.deny_error()
        tf = faults.take(TOKEN_FAULTS + azure_guest_token.SEAL_FAULTS, ROUTE)
        claims = azure_guest_token.claims(facts, settings, tf)
        jwt = azure_guest_token.mint(signer, issuer, claims, now,
                                     settings['token_lifetime_sec'], tf)
        return azure_guest_token.seal(jwt, facts['enc_key'], tf)
