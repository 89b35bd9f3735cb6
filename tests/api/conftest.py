import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def token_client(user):
    """An API client that sends the user's token, as curl would."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def viewer_api(victor):
    return token_client(victor)


@pytest.fixture
def operator_api(olivia):
    return token_client(olivia)
